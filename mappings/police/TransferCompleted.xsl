<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical TransferCompleted → the police's trf:NotifyTransferCompleted.
  TransferRef is licensing's transfer id: a redelivered notification carries
  the same ref, and the police move the residence once. Sponsors become the
  police's type letter (C establishment, P private) and id; dates dd/mm/yyyy.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:trf="urn:om:rop:transfer:2024"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:TransferCompleted">
    <xsl:if test="not(rabt:Worker/rabt:CivilNumber)">
      <xsl:message terminate="yes">the police need the worker's civil number (Worker/CivilNumber)</xsl:message>
    </xsl:if>
    <trf:NotifyTransferCompleted>
      <trf:TransferRef><xsl:value-of select="normalize-space(rabt:TransferId)"/></trf:TransferRef>
      <trf:CivilNo><xsl:value-of select="normalize-space(rabt:Worker/rabt:CivilNumber)"/></trf:CivilNo>
      <xsl:if test="rabt:Worker/rabt:PassportNumber">
        <trf:PassportNo><xsl:value-of select="normalize-space(rabt:Worker/rabt:PassportNumber)"/></trf:PassportNo>
      </xsl:if>
      <trf:PrevSponsorType><xsl:call-template name="type"><xsl:with-param name="of" select="rabt:PreviousSponsor"/></xsl:call-template></trf:PrevSponsorType>
      <trf:PrevSponsorId><xsl:value-of select="normalize-space(rabt:PreviousSponsor/*)"/></trf:PrevSponsorId>
      <trf:NewSponsorType><xsl:call-template name="type"><xsl:with-param name="of" select="rabt:NewSponsor"/></xsl:call-template></trf:NewSponsorType>
      <trf:NewSponsorId><xsl:value-of select="normalize-space(rabt:NewSponsor/*)"/></trf:NewSponsorId>
      <trf:LicenceNo><xsl:value-of select="normalize-space(rabt:LicenceNumber)"/></trf:LicenceNo>
      <trf:ProfessionCode><xsl:value-of select="normalize-space(rabt:Profession/rabt:Code)"/></trf:ProfessionCode>
      <xsl:variable name="d" select="normalize-space(rabt:EffectiveOn)"/>
      <trf:EffectiveDate><xsl:value-of select="concat(substring($d, 9, 2), '/', substring($d, 6, 2), '/', substring($d, 1, 4))"/></trf:EffectiveDate>
    </trf:NotifyTransferCompleted>
  </xsl:template>

  <xsl:template name="type">
    <xsl:param name="of"/>
    <xsl:choose>
      <xsl:when test="$of/rabt:CRNumber">C</xsl:when>
      <xsl:otherwise>P</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical TransferCompleted, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
