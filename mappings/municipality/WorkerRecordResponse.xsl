<?xml version="1.0" encoding="UTF-8"?>
<!--
  Canonical WorkerRecord, as projected for the municipality -> ag:WorkerRecordResponse
  (municipality.xsd). Writes only what the record holds: the fields the hub withheld
  are not in its input, so they cannot appear here.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:ag="urn:agency:municipality:hub:1"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="source_message_id"/>
  <xsl:param name="hub_message_id"/>

  <xsl:template match="/rabt:WorkerRecord">
    <ag:WorkerRecordResponse>
      <ag:MessageId><xsl:value-of select="$source_message_id"/></ag:MessageId>
      <ag:HubMessageId><xsl:value-of select="$hub_message_id"/></ag:HubMessageId>
      <xsl:apply-templates select="rabt:NameAr | rabt:NameEn | rabt:CivilNumber | rabt:Nationality | rabt:Profession
                                   | rabt:Employer | rabt:Licence | rabt:Status"/>
    </ag:WorkerRecordResponse>
  </xsl:template>

  <xsl:template match="rabt:NameAr"><ag:NameAr><xsl:value-of select="."/></ag:NameAr></xsl:template>
  <xsl:template match="rabt:NameEn"><ag:NameEn><xsl:value-of select="."/></ag:NameEn></xsl:template>
  <xsl:template match="rabt:CivilNumber"><ag:ResidentCardNo><xsl:value-of select="."/></ag:ResidentCardNo></xsl:template>
  <xsl:template match="rabt:Nationality"><ag:Nationality><xsl:value-of select="."/></ag:Nationality></xsl:template>
  <xsl:template match="rabt:Profession"><ag:ProfessionCode><xsl:value-of select="."/></ag:ProfessionCode></xsl:template>
  <xsl:template match="rabt:Employer"><ag:EmployerCRNo><xsl:value-of select="."/></ag:EmployerCRNo></xsl:template>
  <xsl:template match="rabt:Licence"><ag:LicenceNo><xsl:value-of select="."/></ag:LicenceNo></xsl:template>
  <xsl:template match="rabt:Status"><ag:WorkerStatus><xsl:value-of select="."/></ag:WorkerStatus></xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical WorkerRecord, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
