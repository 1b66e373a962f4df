<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shared by the courts mappings (xsl:include): the court's codes in canonical
  terms, the same in the batch files (lcb:) and the SOAP service (lc:). Not a
  mapping itself (the leading "_" keeps it out of the mapping list).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1">

  <!-- OutcomeCode → rabt:JudgmentOutcome; an unknown code stops the mapping, naming it. -->
  <xsl:template name="judgment-outcome">
    <xsl:param name="code"/>
    <xsl:variable name="o" select="normalize-space($code)"/>
    <xsl:choose>
      <xsl:when test="$o = 'W'">for-worker</xsl:when>
      <xsl:when test="$o = 'E'">for-employer</xsl:when>
      <xsl:when test="$o = 'P'">partly-for-worker</xsl:when>
      <xsl:when test="$o = 'S'">settled</xsl:when>
      <xsl:when test="$o = 'X'">dismissed</xsl:when>
      <xsl:otherwise><xsl:message terminate="yes">unknown OutcomeCode '<xsl:value-of select="$o"/>'</xsl:message></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- StatusCode → rabt:CaseEvent (JDG and CLS are both a judgment; CLS is final). -->
  <xsl:template name="case-event">
    <xsl:param name="code"/>
    <xsl:variable name="s" select="normalize-space($code)"/>
    <xsl:choose>
      <xsl:when test="$s = 'OPN'">opened</xsl:when>
      <xsl:when test="$s = 'HRG'">hearing</xsl:when>
      <xsl:when test="$s = 'JDG' or $s = 'CLS'">judgment</xsl:when>
      <xsl:otherwise><xsl:message terminate="yes">unknown StatusCode '<xsl:value-of select="$s"/>'</xsl:message></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- A rabt:Name labelled with the script it is written in (a name field of the court's service is
       not tied to a language): any Arabic letter makes it "ar", else "en". -->
  <xsl:template name="name-as-written">
    <xsl:param name="name"/>
    <xsl:variable name="text" select="normalize-space($name)"/>
    <rabt:Name>
      <xsl:attribute name="xml:lang">
        <xsl:choose>
          <xsl:when test="translate($text, 'ءآأؤإئابةتثجحخدذرزسشصضطظعغـفقكلمنهوىيٱپچژکگیۀے', '') != $text">ar</xsl:when>
          <xsl:otherwise>en</xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <xsl:value-of select="$text"/>
    </rabt:Name>
  </xsl:template>
</xsl:stylesheet>
