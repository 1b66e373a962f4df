<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical WorkerDataCorrected → the Social Protection Fund's
  spf:NotifyInsuredPersonCorrected. The fund finds the insured by the civil
  number it held (Previous/CivilNumber); each canonical Correction becomes a
  ChangedItem with the fund's item code. ReferenceNo is licensing's
  correction id (a redelivery is kept once); EffectiveDate is the UTC day
  of CorrectedAt.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:spf="urn:om:spf:income:1"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:WorkerDataCorrected">
    <spf:NotifyInsuredPersonCorrected>
      <spf:ReferenceNo><xsl:value-of select="normalize-space(rabt:CorrectionId)"/></spf:ReferenceNo>
      <spf:CivilId><xsl:value-of select="normalize-space(rabt:Previous/rabt:CivilNumber)"/></spf:CivilId>
      <xsl:apply-templates select="rabt:Correction"/>
      <spf:EffectiveDate><xsl:value-of select="substring(normalize-space(rabt:CorrectedAt), 1, 10)"/></spf:EffectiveDate>
    </spf:NotifyInsuredPersonCorrected>
  </xsl:template>

  <xsl:template match="rabt:Correction">
    <spf:ChangedItem>
      <spf:ItemCode>
        <xsl:choose>
          <xsl:when test="normalize-space(rabt:Field) = 'name-ar'">FULL_NAME_AR</xsl:when>
          <xsl:when test="normalize-space(rabt:Field) = 'name-en'">FULL_NAME_EN</xsl:when>
          <xsl:when test="normalize-space(rabt:Field) = 'civil-number'">CIVIL_ID</xsl:when>
          <xsl:when test="normalize-space(rabt:Field) = 'passport-number'">PASSPORT_NO</xsl:when>
          <xsl:otherwise>NATIONALITY</xsl:otherwise>
        </xsl:choose>
      </spf:ItemCode>
      <xsl:if test="rabt:Before">
        <spf:OldValue><xsl:value-of select="rabt:Before"/></spf:OldValue>
      </xsl:if>
      <spf:NewValue><xsl:value-of select="rabt:After"/></spf:NewValue>
    </spf:ChangedItem>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical WorkerDataCorrected, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
